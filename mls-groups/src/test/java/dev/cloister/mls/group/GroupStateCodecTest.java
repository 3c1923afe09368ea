package dev.cloister.mls.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.GroupKeySet;
import org.bouncycastle.mls.KeyGeneration;
import org.bouncycastle.mls.KeyScheduleEpoch;
import org.bouncycastle.mls.TranscriptHash;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.TreeKEM.TreeKEMPrivateKey;
import org.bouncycastle.mls.TreeKEM.TreeKEMPublicKey;
import org.bouncycastle.mls.codec.AuthenticatedContent;
import org.bouncycastle.mls.codec.Commit;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.Sender;
import org.bouncycastle.mls.crypto.MlsCipherSuite;
import org.bouncycastle.mls.crypto.Secret;
import org.bouncycastle.mls.protocol.CachedProposal;
import org.bouncycastle.mls.protocol.Group;
import org.junit.jupiter.api.Test;

/**
 * Fails loudly when a bcmls upgrade renames, removes or retypes a private field the codec relies
 * on, or a private step of {@code Group.commit} that {@link LoneCommit} runs (both are pinned to
 * bcmls 1.84; see their class comments).
 */
class GroupStateCodecTest {
    @Test
    void bcmlsFieldsAreWhereTheCodecExpectsThem() throws Exception {
        assertThatCode(() -> Class.forName(GroupStateCodec.class.getName(), true, getClass().getClassLoader()))
                .doesNotThrowAnyException();
        Class<?> ratchet = Class.forName("org.bouncycastle.mls.GroupKeySet$HashRatchet");
        Object[][] expected = {
                {Group.class, "epoch", long.class},
                {Group.class, "groupID", byte[].class},
                {Group.class, "transcriptHash", TranscriptHash.class},
                {Group.class, "extensions", ArrayList.class},
                {Group.class, "keySchedule", KeyScheduleEpoch.class},
                {Group.class, "tree", TreeKEMPublicKey.class},
                {Group.class, "treePriv", TreeKEMPrivateKey.class},
                {Group.class, "keys", GroupKeySet.class},
                {Group.class, "suite", MlsCipherSuite.class},
                {Group.class, "index", LeafIndex.class},
                {Group.class, "identitySk", byte[].class},
                {Group.class, "pendingProposals", ArrayList.class},
                {Group.class, "externalPSKs", Map.class},
                {Group.class, "resumptionPSKs", Map.class},
                {TreeKEMPrivateKey.class, "pathSecrets", Map.class},
                {TreeKEMPrivateKey.class, "privateKeyCache", Map.class},
                {GroupKeySet.class, "encryptionSecretCommit", Secret.class},
                {GroupKeySet.class, "handshakeRatchets", Map.class},
                {GroupKeySet.class, "applicationRatchets", Map.class},
                {KeyScheduleEpoch.class, "externalKeyPair", AsymmetricCipherKeyPair.class},
                {ratchet, "nextSecret", Secret.class},
                {ratchet, "nextGeneration", int.class},
                {ratchet, "cache", Map.class},
                {KeyGeneration.class, "key", byte[].class},
                {KeyGeneration.class, "nonce", byte[].class},
        };
        List<String> wrong = new ArrayList<>();
        for (Object[] e : expected) {
            Field f = ((Class<?>) e[0]).getDeclaredField((String) e[1]);
            if (f.getType() != e[2]) {
                wrong.add(e[0] + "." + e[1] + " is " + f.getType());
            }
        }
        assertThat(wrong).isEmpty();
        // The ten key schedule secrets the codec saves, in its order, are still public fields.
        for (String name : List.of("initSecret", "senderDataSecret", "exporterSecret", "confirmationKey", "membershipKey",
                "resumptionPSK", "epochAuthenticator", "encryptionSecret", "externalSecret", "joinerSecret")) {
            assertThat(KeyScheduleEpoch.class.getField(name).getType()).isEqualTo(Secret.class);
        }
    }

    @Test
    void bcmlsCommitStepsAreWhereLoneCommitExpectsThem() throws Exception {
        assertThatCode(() -> Class.forName(LoneCommit.class.getName(), true, getClass().getClassLoader()))
                .doesNotThrowAnyException();
        Class<?> applied = Class.forName("org.bouncycastle.mls.protocol.Group$JoinersWithPSKS");
        Object[][] expected = {
                {"successor", Group.class, new Class<?>[] {}},
                {"mustResolve", List.class, new Class<?>[] {List.class, LeafIndex.class}},
                {"validateCachedProposals", boolean.class, new Class<?>[] {List.class, LeafIndex.class, Group.CommitParameters.class}},
                {"apply", applied, new Class<?>[] {List.class}},
                {"sign", AuthenticatedContent.class, new Class<?>[] {Sender.class, Commit.class, byte[].class, boolean.class}},
                {"protect", MLSMessage.class, new Class<?>[] {AuthenticatedContent.class, int.class}},
                {"updateEpochSecrets", void.class, new Class<?>[] {byte[].class, List.class, byte[].class}},
        };
        for (Object[] e : expected) {
            Method m = Group.class.getDeclaredMethod((String) e[0], (Class<?>[]) e[2]);
            assertThat(m.getReturnType()).as("Group." + e[0]).isEqualTo(e[1]);
        }
        assertThat(CachedProposal.class.getDeclaredField("proposalRef").getType()).isEqualTo(byte[].class);
        assertThat(applied.getDeclaredField("joiners").getType()).isEqualTo(List.class);
        assertThat(applied.getDeclaredField("psks").getType()).isEqualTo(List.class);
    }
}
