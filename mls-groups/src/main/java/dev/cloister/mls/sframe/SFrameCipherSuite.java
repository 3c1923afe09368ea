package dev.cloister.mls.sframe;

/** The five cipher suites of RFC 9605 section 4.5 with their sizes in bytes. */
public enum SFrameCipherSuite {
    AES_128_CTR_HMAC_SHA256_80(0x0001, 48, 16, 12, 10, 32),
    AES_128_CTR_HMAC_SHA256_64(0x0002, 48, 16, 12, 8, 32),
    AES_128_CTR_HMAC_SHA256_32(0x0003, 48, 16, 12, 4, 32),
    AES_128_GCM_SHA256_128(0x0004, 16, 16, 12, 16, 32),
    AES_256_GCM_SHA512_128(0x0005, 32, 32, 12, 16, 64);

    /** IANA value. */
    public final int id;
    /** AEAD key size Nk (for CTR-HMAC: encryption key plus authentication key). */
    public final int nk;
    /** AES key size Nka inside the AEAD key. */
    public final int nka;
    /** Nonce size Nn. */
    public final int nn;
    /** Tag size Nt. */
    public final int nt;
    /** Output size Nh of the suite's hash. */
    public final int nh;

    SFrameCipherSuite(int id, int nk, int nka, int nn, int nt, int nh) {
        this.id = id;
        this.nk = nk;
        this.nka = nka;
        this.nn = nn;
        this.nt = nt;
        this.nh = nh;
    }

    public boolean isGcm() {
        return this == AES_128_GCM_SHA256_128 || this == AES_256_GCM_SHA512_128;
    }

    public static SFrameCipherSuite fromId(int id) {
        for (SFrameCipherSuite s : values()) {
            if (s.id == id) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown SFrame cipher suite " + id);
    }
}
