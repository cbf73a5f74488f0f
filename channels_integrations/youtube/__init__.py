"""YouTube Data API v3: comments on the channel's videos in, replies and moderation out."""
