from textstats import top_words, word_count, words


def test_words_are_lower_cased_without_punctuation():
    assert words("Hello, world! It's late.") == ["hello", "world", "it's", "late"]


def test_word_count():
    assert word_count("one two  three\nfour") == 4


def test_word_count_of_empty_text_is_zero():
    assert word_count("") == 0


def test_top_words():
    assert top_words("the cat saw the dog and the cat", n=2) == [("the", 3), ("cat", 2)]
