"""Microsoft Teams plugin: built in the Teams issue; found through `peerline.plugins`."""
