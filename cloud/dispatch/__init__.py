"""Dispatch: the routing problem built from live fleet state, a routing engine behind one small
interface, and the planner that applies its plans without churn. Pure logic plus the engine; no web
framework and no database here (the REST side builds :class:`~cloud.dispatch.problem.Problem`
values from its rows and stores the :class:`~cloud.dispatch.problem.Plan` it gets back)."""
