"""Cloud entrypoints: `functions.gcp` (Pub/Sub -> Cloud Functions) and `functions.aws` (SQS -> Lambda).

Each cloud module imports its own SDK only; the shared helpers here stay cloud-neutral.
"""
