"""The cleaned split and the files beside it, written as one set; spreadsheet-safe
tables.
"""
