"""`landalloc` command line. Exit codes: 0 solved, 2 bad input, 3 infeasible, 4 no solution within limits.

The top layer: this module is the ``main`` group and the list of verbs; each verb lives in the module
of its group (``solve``, ``workflows``, ``report``, ``marxan``), and what they share on the terminal
in ``terminal``. Verb modules never import this package or each other.
"""

from __future__ import annotations

import click

from optimizer.cli.init import init
from optimizer.cli.marxan import export_marxan, import_marxan
from optimizer.cli.report import report
from optimizer.cli.solve import explain, instance_info, solve, verify
from optimizer.cli.workflows import compare, runs, sweep, whatif


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="landalloc")
def main():
    """landalloc — exact land-use allocation for provincial plans.

    \b
    Exit codes: 0 solved (plan written, optimal within the requested gap),
                2 bad input, 3 infeasible (with a diagnosis),
                4 no proven solution within the limits (time limit, Ctrl-C);
                  the best plan found, if any, is still written with status "feasible".
    """


main.add_command(solve)
main.add_command(explain)
main.add_command(instance_info)
main.add_command(verify)
main.add_command(report)
main.add_command(import_marxan)
main.add_command(export_marxan)
main.add_command(whatif)
main.add_command(compare)
main.add_command(sweep)
main.add_command(runs)
main.add_command(init)
