package dev.cloister.client.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.Guild;
import java.util.List;

/** A new session's ready: who you are and every guild you are in, with its members. */
public record Ready(String sessionId, long seq, String userId, String username, List<Guild> guilds,
    JsonNode raw) {}
