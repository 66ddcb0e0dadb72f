"""LTI 1.3: the LMS launches PeerLine, which checks every launch before it trusts a word."""
