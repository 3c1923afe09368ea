package dev.cloister.client;

import java.time.Instant;

/** An invite: {@code maxUses} 0 means unlimited, {@code expiresAt} null means never. */
public record Invite(String code, String guildId, String creatorId, int maxUses, int uses,
    Instant expiresAt) {}
