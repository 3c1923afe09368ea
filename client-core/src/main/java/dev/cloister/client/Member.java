package dev.cloister.client;

import java.time.Instant;
import java.util.List;

/** A guild member: nickname may be null; {@code roles} holds role ids. */
public record Member(String userId, String nickname, List<String> roles, Instant joinedAt) {}
