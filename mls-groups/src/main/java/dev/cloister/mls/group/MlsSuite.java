package dev.cloister.mls.group;

import dev.cloister.mls.sframe.SFrameCipherSuite;
import org.bouncycastle.mls.crypto.MlsCipherSuite;

/** The one MLS cipher suite Cloister groups use, and the SFrame suite voice keys are exported for. */
public final class MlsSuite {
    /**
     * MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (0x0001), and the process-wide bcmls lock. bcmls
     * 1.84's suites are singletons (every decoded message refers to the same one) sharing one digest,
     * one signer and one HPKE: two threads using them at once corrupt each other's hashes and
     * signatures (a join then sees "badly signed" leaves, a server refuses good key packages). So every
     * entry point of this module that runs bcmls holds {@code synchronized (SUITE)}; so must any other
     * code that calls bcmls directly.
     */
    public static final MlsCipherSuite SUITE = suite();
    public static final SFrameCipherSuite SFRAME = SFrameCipherSuite.AES_128_GCM_SHA256_128;
    public static final String SFRAME_EXPORTER_LABEL = "SFrame 1.0 Base Key";

    private MlsSuite() {
    }

    private static MlsCipherSuite suite() {
        try {
            return MlsCipherSuite.getSuite(MlsCipherSuite.MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519);
        } catch (Exception e) {
            throw new IllegalStateException("MLS suite 1 unavailable in bcmls", e);
        }
    }
}
