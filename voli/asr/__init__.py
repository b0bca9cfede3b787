"""Speech recognition: Whisper models, long-audio decoding, speakers and roles."""
