"""The model: prompts, streams (Definition 1), the evaluator (Definition 2), generators."""
