/*
 * bench/gen_synthetic.c - the synthetic sparse click stream of the
 * benchmark, written once in every tool's own text format.
 *
 * Each event has 50 categorical fields f1..f50. Field j draws its token
 * from a vocabulary of V_j tokens (log-spaced from 10 to 1,000,000 and
 * shuffled over the fields) with a Zipf(1.1) law, so a few tokens are
 * frequent and most are rare, as with ids in click logs. The label comes
 * from a true sparse logistic model: a bias plus one weight per (field,
 * token); ten fields carry no signal at all, and in the others half the
 * tokens have weight zero. A learner can approach the true model on the
 * frequent tokens but never on the long tail, so the task is learnable
 * but not trivial; the Bayes logloss (that of the true probabilities) is
 * printed as the floor no learner can beat on average.
 *
 * Rows are drawn one after another from one xoshiro256** stream seeded by
 * --seed, so a run with --rows 1000000 writes exactly the first million
 * rows of a run with --rows 10000000.
 *
 * Writes, from the same rows:
 *   CSV     label,f1,...,f50 with a header (riffle, River, scikit-learn);
 *           tokens are the base-36 Zipf rank, to keep the file compact
 *   VW      "1 |f f1=tok ... f50=tok" with labels -1/1 (Vowpal Wabbit)
 *   labels  one 0/1 per line, for scoring every tool the same way
 * and prints one JSON line of facts about the stream.
 *
 * Build: cc -O2 -o gen_synthetic gen_synthetic.c -lm
 * Usage: gen_synthetic --rows N --seed S --csv F --vw F --labels F
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYN_FIELDS 50
#define SYN_NOISE_FIELDS 10       /* fields whose tokens all weigh 0 */
#define SYN_VOCAB_MIN 10.0        /* smallest vocabulary, tokens */
#define SYN_VOCAB_MAX 1000000.0   /* largest vocabulary, tokens */
#define SYN_ZIPF_S 1.1            /* P(rank k) ~ k^-1.1 */
#define SYN_ACTIVE_SHARE 0.5      /* tokens with a non-zero true weight */
#define SYN_FIELD_SCALE_MIN 0.15  /* weight std of an informative field */
#define SYN_FIELD_SCALE_MAX 0.6
#define SYN_BIAS (-1.6)           /* about 32% positives */
#define SYN_OUT_BUFFER (1 << 22)  /* stdio buffer per output, bytes */
#define SYN_TOKEN_MAX 16          /* base 36 of a 32-bit rank fits */

struct rng {
    uint64_t s[4];
};

/* One field's vocabulary: Walker alias table over Zipf ranks, the true
 * weight of each rank, and the ranks printed once in base 36. */
struct field {
    uint32_t vocab;
    float *prob;        /* alias acceptance probability per slot */
    uint32_t *alias;    /* alias rank per slot */
    float *weight;      /* true weight per rank */
    char *tokens;       /* vocab * SYN_TOKEN_MAX bytes, NUL-terminated */
    unsigned char *token_len;
};


/* ---- random numbers ------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    int i;

    for (i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t result = rotl(r->s[1] * 5, 7) * 9;
    uint64_t t = r->s[1] << 17;

    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = rotl(r->s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53;
}

static double rng_normal(struct rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);

    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}


/* ---- the vocabulary and the true model ----------------------------- */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (!p) {
        fprintf(stderr, "gen_synthetic: out of memory\n");
        exit(1);
    }
    return p;
}

static void base36(uint32_t v, char *out, unsigned char *len)
{
    char tmp[SYN_TOKEN_MAX];
    int n = 0, i;

    do {
        tmp[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
        v /= 36;
    } while (v);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    *len = (unsigned char)n;
}

/* Walker's alias method (Vose's variant): O(1) per draw. */
static void alias_build(struct field *f)
{
    uint32_t n = f->vocab, i, ns = 0, nl = 0;
    double *p = xcalloc(n, sizeof(*p));
    uint32_t *small = xcalloc(n, sizeof(*small));
    uint32_t *large = xcalloc(n, sizeof(*large));
    double total = 0.0;

    for (i = 0; i < n; i++)
        total += pow((double)(i + 1), -SYN_ZIPF_S);
    for (i = 0; i < n; i++) {
        p[i] = pow((double)(i + 1), -SYN_ZIPF_S) / total * n;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[--nl];

        f->prob[s] = (float)p[s];
        f->alias[s] = l;
        p[l] -= 1.0 - p[s];
        if (p[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    while (nl)
        f->prob[large[--nl]] = 1.0f;
    while (ns)
        f->prob[small[--ns]] = 1.0f;
    free(p);
    free(small);
    free(large);
}

static uint32_t field_draw(const struct field *f, struct rng *r)
{
    uint64_t x = rng_next(r);
    uint32_t slot = (uint32_t)(((x >> 32) * f->vocab) >> 32);
    float u = (float)((x & 0xffffffffu) * 0x1p-32);

    return u < f->prob[slot] ? slot : f->alias[slot];
}

static void fields_build(struct field *fields, struct rng *r)
{
    int order[SYN_FIELDS], j, k, tmp;

    /* Vocabulary sizes are log-spaced, then dealt to fields at random so
     * that size does not follow the field number. */
    for (j = 0; j < SYN_FIELDS; j++)
        order[j] = j;
    for (j = SYN_FIELDS - 1; j > 0; j--) {
        k = (int)(rng_uniform(r) * (j + 1));
        tmp = order[j];
        order[j] = order[k];
        order[k] = tmp;
    }
    for (j = 0; j < SYN_FIELDS; j++) {
        struct field *f = &fields[order[j]];
        double step = (double)j / (SYN_FIELDS - 1);

        f->vocab = (uint32_t)llround(SYN_VOCAB_MIN *
                                     pow(SYN_VOCAB_MAX / SYN_VOCAB_MIN,
                                         step));
    }

    /* The first SYN_NOISE_FIELDS of a second shuffle carry no signal. */
    for (j = SYN_FIELDS - 1; j > 0; j--) {
        k = (int)(rng_uniform(r) * (j + 1));
        tmp = order[j];
        order[j] = order[k];
        order[k] = tmp;
    }
    for (j = 0; j < SYN_FIELDS; j++) {
        struct field *f = &fields[order[j]];
        double scale = SYN_FIELD_SCALE_MIN +
                       (SYN_FIELD_SCALE_MAX - SYN_FIELD_SCALE_MIN) *
                           rng_uniform(r);
        uint32_t t;

        f->prob = xcalloc(f->vocab, sizeof(*f->prob));
        f->alias = xcalloc(f->vocab, sizeof(*f->alias));
        f->weight = xcalloc(f->vocab, sizeof(*f->weight));
        f->tokens = xcalloc((size_t)f->vocab, SYN_TOKEN_MAX);
        f->token_len = xcalloc(f->vocab, 1);
        alias_build(f);
        for (t = 0; t < f->vocab; t++) {
            base36(t, f->tokens + (size_t)t * SYN_TOKEN_MAX,
                   &f->token_len[t]);
            if (j >= SYN_NOISE_FIELDS &&
                rng_uniform(r) < SYN_ACTIVE_SHARE)
                f->weight[t] = (float)(scale * rng_normal(r));
        }
    }
}


/* ---- output -------------------------------------------------------- */

static FILE *open_out(const char *path)
{
    FILE *f = fopen(path, "wb");

    if (!f) {
        perror(path);
        exit(1);
    }
    setvbuf(f, NULL, _IOFBF, SYN_OUT_BUFFER);
    return f;
}

static void close_out(FILE *f, const char *path)
{
    if (ferror(f) || fclose(f) != 0) {
        fprintf(stderr, "gen_synthetic: %s: write failed\n", path);
        exit(1);
    }
}

static const char *arg_value(int argc, char **argv, const char *name)
{
    int i;

    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    fprintf(stderr, "usage: gen_synthetic --rows N --seed S --csv F "
                    "--vw F --labels F\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long long rows = atoll(arg_value(argc, argv, "--rows"));
    uint64_t seed = strtoull(arg_value(argc, argv, "--seed"), NULL, 10);
    const char *csv_path = arg_value(argc, argv, "--csv");
    const char *vw_path = arg_value(argc, argv, "--vw");
    const char *labels_path = arg_value(argc, argv, "--labels");
    static struct field fields[SYN_FIELDS];
    uint32_t tok[SYN_FIELDS];
    char vw_name[SYN_FIELDS][8];  /* " f12=" */
    size_t vw_name_len[SYN_FIELDS];
    /* A line holds at most 50 tokens and their names, with room to spare. */
    char csv_line[SYN_FIELDS * (SYN_TOKEN_MAX + 1) + 8];
    char vw_line[SYN_FIELDS * (SYN_TOKEN_MAX + 8) + 8];
    size_t cl, ml;
    FILE *csv, *vw, *labels;
    double bayes_loss = 0.0, margin_sq = 0.0;
    long long i, positives = 0;
    struct rng r;
    int j;

    rng_seed(&r, seed);
    fields_build(fields, &r);
    csv = open_out(csv_path);
    vw = open_out(vw_path);
    labels = open_out(labels_path);

    fputs("label", csv);
    for (j = 0; j < SYN_FIELDS; j++) {
        fprintf(csv, ",f%d", j + 1);
        snprintf(vw_name[j], sizeof(vw_name[j]), " f%d=", j + 1);
        vw_name_len[j] = strlen(vw_name[j]);
    }
    fputc('\n', csv);

    for (i = 0; i < rows; i++) {
        double margin = SYN_BIAS, p;
        int y;

        for (j = 0; j < SYN_FIELDS; j++) {
            tok[j] = field_draw(&fields[j], &r);
            margin += fields[j].weight[tok[j]];
        }
        p = 1.0 / (1.0 + exp(-margin));
        y = rng_uniform(&r) < p;
        positives += y;
        margin_sq += (margin - SYN_BIAS) * (margin - SYN_BIAS);
        bayes_loss -= y ? log(p) : log1p(-p);

        /* One fwrite per line: stdio's per-call locking would otherwise
         * cost more than drawing the row. */
        cl = ml = 0;
        csv_line[cl++] = y ? '1' : '0';
        memcpy(vw_line, y ? "1 |f" : "-1 |f", y ? 4 : 5);
        ml = y ? 4 : 5;
        for (j = 0; j < SYN_FIELDS; j++) {
            const struct field *f = &fields[j];
            const char *t = f->tokens + (size_t)tok[j] * SYN_TOKEN_MAX;
            size_t tl = f->token_len[tok[j]];

            csv_line[cl++] = ',';
            memcpy(csv_line + cl, t, tl);
            cl += tl;
            memcpy(vw_line + ml, vw_name[j], vw_name_len[j]);
            ml += vw_name_len[j];
            memcpy(vw_line + ml, t, tl);
            ml += tl;
        }
        csv_line[cl++] = '\n';
        vw_line[ml++] = '\n';
        fwrite(csv_line, 1, cl, csv);
        fwrite(vw_line, 1, ml, vw);
        fputs(y ? "1\n" : "0\n", labels);
    }

    close_out(csv, csv_path);
    close_out(vw, vw_path);
    close_out(labels, labels_path);
    printf("{\"rows\":%lld,\"seed\":%llu,\"fields\":%d,"
           "\"positive_rate\":%.6f,\"bayes_logloss\":%.6f,"
           "\"signal_std\":%.4f}\n", rows, (unsigned long long)seed,
           SYN_FIELDS, rows ? (double)positives / rows : 0.0,
           rows ? bayes_loss / rows : 0.0,
           rows ? sqrt(margin_sq / rows) : 0.0);
    for (j = 0; j < SYN_FIELDS; j++) {
        free(fields[j].prob);
        free(fields[j].alias);
        free(fields[j].weight);
        free(fields[j].tokens);
        free(fields[j].token_len);
    }
    return 0;
}
