# Moderation models (Rule, ModerationDecision, Ban, Incident) arrive with the moderation issue.
