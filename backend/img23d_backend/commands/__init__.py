"""The command line: the parser (cli), the job options, the progress printer, and one module per command (chain, models, probe, batch)."""
