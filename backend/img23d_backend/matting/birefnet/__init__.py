"""BiRefNet and BiRefNet_HR: their specs (model), their random-weight replica (replica) and its remote code stand-ins."""
