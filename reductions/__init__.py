"""The Theorem 1 reduction from 3-PARTITION (see the reduction issue)."""
