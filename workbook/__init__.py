"""FastAPI Pro Workbook: the grader, its pytest plugin and the CLI."""
