"""The field matcher's labelled set and its precision/recall evaluation (`jianfu forms-eval`)."""
