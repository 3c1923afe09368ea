package dev.cloister.mls.group;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A human-comparable safety number for two users, from their devices' identity (signature) keys:
 * 60 digits in 12 groups of 5, the same on both sides, changing when either user's set of device
 * keys changes. Each half is an iterated SHA-512 over the user id and sorted keys, so brute-forcing
 * a collision on the digits a person compares costs about 2^100 hashes times the iteration count.
 */
public final class SafetyNumber {
    private static final int ITERATIONS = 5200;
    private static final byte[] VERSION = {0, 1};

    private SafetyNumber() {
    }

    public static String of(String userA, List<byte[]> keysA, String userB, List<byte[]> keysB) {
        String a = half(userA, keysA);
        String b = half(userB, keysB);
        String digits = a.compareTo(b) <= 0 ? a + b : b + a;
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < digits.length(); i += 5) {
            if (i > 0) {
                out.append(i % 20 == 0 ? '\n' : ' ');
            }
            out.append(digits, i, i + 5);
        }
        return out.toString();
    }

    /** 30 digits for one user. */
    static String half(String user, List<byte[]> keys) {
        List<byte[]> sorted = new ArrayList<>(keys);
        sorted.sort(Arrays::compareUnsigned);
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-512");
            byte[] id = user.getBytes(StandardCharsets.UTF_8);
            sha.update(VERSION);
            sha.update(id);
            for (byte[] k : sorted) {
                sha.update(k);
            }
            byte[] hash = sha.digest();
            for (int i = 0; i < ITERATIONS; i++) {
                sha.update(hash);
                for (byte[] k : sorted) {
                    sha.update(k);
                }
                hash = sha.digest();
            }
            StringBuilder digits = new StringBuilder();
            for (int chunk = 0; chunk < 6; chunk++) {
                long v = 0;
                for (int i = 0; i < 5; i++) {
                    v = v << 8 | (hash[chunk * 5 + i] & 0xff);
                }
                digits.append(String.format("%05d", v % 100_000));
            }
            return digits.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
