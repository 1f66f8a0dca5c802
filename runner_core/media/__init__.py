"""Media access for agents: streaming downloads and PyAV decoding."""
