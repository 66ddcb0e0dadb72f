"""LMS plugin (LTI 1.3, calendar files and feeds): built in the LMS issue."""
