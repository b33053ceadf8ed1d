"""Execution of workflow versions on LangGraph: compile, run nodes, workers with leases, cancel."""
