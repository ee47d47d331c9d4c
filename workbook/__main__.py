"""`python -m workbook` runs the CLI."""

from workbook.entry import main

main()
