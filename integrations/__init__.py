"""Chat-platform plugins for PeerLine (Slack, Microsoft Teams)."""
