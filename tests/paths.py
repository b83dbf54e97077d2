"""Where the tests' own data and the repository are, for test modules at any depth of tests/."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
DATA = TESTS / "data"
HEAD300 = DATA / "mooncake_conversation_head300.jsonl"
"""The first 300 lines of the Mooncake conversation trace (tests/data/README.md)."""
