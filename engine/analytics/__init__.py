"""What runs produce: statistics, account, heatmap, schedule, partial, performance, reports."""
