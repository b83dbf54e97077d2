"""``python -m prefix_sched.studies.serving OUT.json [--requests N] [--workers W]``: run the seed's
experiment in the model (:func:`~prefix_sched.studies.serving.seed_experiment.run_study`) and write it."""

from prefix_sched.studies.serving.seed_experiment import main

if __name__ == "__main__":
    main()
