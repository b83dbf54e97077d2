"""Scheduling: online policies (FCFS, LPM, k-LPM) and, later, exact solvers."""
