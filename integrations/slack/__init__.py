"""Slack plugin: built in the Slack issue; found through the `peerline.plugins` entry points."""
