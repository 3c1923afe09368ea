package dev.cloister.client.device;

/** How many one-time key packages the server holds for a device, and whether it has a last-resort one. */
public record KeyPackageStock(int available, boolean lastResort) {}
