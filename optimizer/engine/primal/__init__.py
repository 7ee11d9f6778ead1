"""The primal engine: good plans early, handed to the MIP solver, which then proves the bound.

HiGHS's own heuristics find a first plan only after its presolve and root cuts, which on the large
compactness, sites and joint models is after the time a planner waits. The relaxation of these
models is nearly integral (99.9 % of the columns of the 10,000-parcel compactness model), so the
engine solves the LP, fixes what is integral and solves the small rest (``neighbourhoods``), improves
the plan by neighbourhood search around it, and gives the best plan to the MIP as its start
(``engine``). Every plan is completed and checked against the model's rows before it is offered
(``plans``), and the time-to-gap trace says who found each incumbent.
"""
