"""The data layer: the only code that speaks to AWS through boto3."""
