"""Replaying schedules on a real transformer to test the Definition 2 cost model."""
