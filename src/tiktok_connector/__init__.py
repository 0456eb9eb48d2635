"""mParticle → TikTok Events API 2.0 connector."""
