#!/usr/bin/env python3
"""
Plain BM25 on a BEIR-format set, outside the project
====================================================
  python3 -m venv /tmp/bm25 && /tmp/bm25/bin/pip install rank_bm25
  /tmp/bm25/bin/python bench/plain-bm25.py --data DIR [--k1 0.9,1.5] [--b 0.4,0.75]
The reference `npm run eval:rag` compares hybrid against: Okapi BM25 as rank_bm25 implements
it, over whole documents (title and text), the text lower-cased and split on anything but
letters and digits, no stemming and no stop words; scored as bench/beir.mjs scores the
project's rankings (nDCG@10 with 2^grade − 1 gains, recall@10, MRR@10) over the queries that
have judgements. One JSON line per (k1, b) on stdout: {k1, b, ndcg10, recall10, mrr10, queries}.
k1 0.9 / b 0.4 are Anserini's defaults, 1.5 / 0.75 rank_bm25's.
"""
import argparse
import json
import math
import re
from collections import defaultdict

from rank_bm25 import BM25Okapi

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def tokens(text):
    return TOKEN.findall(text.lower())


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--k1", default="0.9,1.5")
    parser.add_argument("--b", default="0.4,0.75")
    args = parser.parse_args()

    corpus = read_jsonl(f"{args.data}/corpus.jsonl")
    queries = read_jsonl(f"{args.data}/queries.jsonl")
    judged = defaultdict(dict)
    with open(f"{args.data}/qrels.tsv", encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            query_id, doc_id, grade = line.rstrip("\n").split("\t")
            judged[query_id][doc_id] = int(grade)
    queries = [q for q in queries if q["_id"] in judged]
    ids = [doc["_id"] for doc in corpus]
    texts = [tokens(f"{doc.get('title', '')}\n{doc['text']}") for doc in corpus]

    for k1 in (float(x) for x in args.k1.split(",")):
        for b in (float(x) for x in args.b.split(",")):
            bm25 = BM25Okapi(texts, k1=k1, b=b)
            totals = {"ndcg10": 0.0, "recall10": 0.0, "mrr10": 0.0}
            for query in queries:
                scores = bm25.get_scores(tokens(query["text"]))
                top = sorted(range(len(ids)), key=lambda i: (-scores[i], i))[:10]
                grades = judged[query["_id"]]
                dcg = sum((2 ** grades.get(ids[i], 0) - 1) / math.log2(rank + 2) for rank, i in enumerate(top) if grades.get(ids[i], 0) > 0)
                ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:10]
                idcg = sum((2 ** g - 1) / math.log2(rank + 2) for rank, g in enumerate(ideal))
                relevant = [d for d, g in grades.items() if g > 0]
                totals["ndcg10"] += dcg / idcg if idcg else 0
                totals["recall10"] += sum(1 for i in top if ids[i] in relevant) / len(relevant) if relevant else 0
                first = next((rank for rank, i in enumerate(top) if grades.get(ids[i], 0) > 0), None)
                totals["mrr10"] += 1 / (first + 1) if first is not None else 0
            print(json.dumps({"k1": k1, "b": b, **{k: round(v / len(queries), 4) for k, v in totals.items()}, "queries": len(queries)}), flush=True)


if __name__ == "__main__":
    main()
