"""runner-core: run Encord workflow task agents serverless."""
