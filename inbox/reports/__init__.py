"""Reports: volumes, response and resolution times, SLA compliance, backlog, moderation,
sentiment, tags, busiest hours and workload for a period, with charts and CSV export."""
