"""Social listening: rules, mention ingestion, social leads and tickets, live notifications."""
