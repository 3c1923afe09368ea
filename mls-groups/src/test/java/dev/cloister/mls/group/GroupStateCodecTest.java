package dev.cloister.mls.group;

import static org.assertj.core.api.Assertions.assertThatCode;

import org.junit.jupiter.api.Test;

/** Fails loudly when a bcmls upgrade renames or removes a private field the codec relies on. */
class GroupStateCodecTest {
    @Test
    void bcmlsFieldsAreWhereTheCodecExpectsThem() {
        assertThatCode(() -> Class.forName(GroupStateCodec.class.getName(), true, getClass().getClassLoader()))
                .doesNotThrowAnyException();
    }
}
