package dev.cloister.guild;

/**
 * Marker for every message that crosses the wire or enters the journal: commands, replies, events
 * and snapshots. Bound to {@code jackson-cbor} in {@code reference.conf}; Java serialization is off.
 */
public interface CborSerializable {}
