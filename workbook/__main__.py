"""`python -m workbook` runs the CLI."""

from workbook.cli import main

main()
