"""A person's review: decisions kept in SQLite, the history of analyses, what the
review and the estimates say (findings), evaluation against audited labels.
"""
