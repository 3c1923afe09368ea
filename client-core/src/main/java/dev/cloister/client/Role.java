package dev.cloister.client;

import java.util.List;

/** A guild role; the @everyone role has the guild's id and position 0. */
public record Role(String id, String name, int position, List<String> permissions) {}
