from graphrec.cli import cli

if __name__ == "__main__":  # not when a spawned process imports it (model/train_worker.py)
    cli()
