package dev.cloister.mls.group;

/**
 * A decrypted application message and the member who sent it: the leaf named in the sender data,
 * whose ratchet opened the content and whose signature key verified it, so the sender is authentic.
 * A client checks it against who the server says posted the message.
 */
public record OpenedMessage(byte[] plaintext, DeviceCredential sender) {}
