"""Training: HR image data and degradations, switchable losses, the resumable loop."""
