"""Operating a deployment from the command line: dead letters (`runner-core dlq`) and a status view
(`runner-core status`). Each command group is its own module; the cloud-specific work lives beside it."""
