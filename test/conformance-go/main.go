// A second-language client for the local OSS: the official Alibaba Cloud OSS Go SDK drives every operation it
// offers that the local OSS implements, and prints one JSON line per operation:
//
//	{"op":"PutObject","ok":true}  or  {"op":"PutObject","ok":false,"error":"..."}
//
// A failed operation does not stop the others; the exit code is 1 when any failed.
// Endpoint, credentials and bucket come from the environment (OSS_ENDPOINT, OSS_ACCESS_KEY_ID,
// OSS_ACCESS_KEY_SECRET, OSS_BUCKET), scratch files go to OSS_WORK_DIR.
// CRC-64 (ECMA) checks: the SDK's own (PutObject, UploadPart, AppendObject with InitCRC, GetObjectToFile), and
// explicit comparisons of x-oss-hash-crc64ecma with the CRC of the bytes sent.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc64"
	"io/ioutil"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

var crcTable = crc64.MakeTable(crc64.ECMA)

func crcOf(b []byte) uint64 { return crc64.Checksum(b, crcTable) }

var failed = false

// step runs one operation and prints its outcome line.
func step(op string, fn func() error) {
	line := map[string]interface{}{"op": op, "ok": true}
	if err := fn(); err != nil {
		failed = true
		line["ok"] = false
		line["error"] = err.Error()
	}
	out, _ := json.Marshal(line)
	fmt.Println(string(out))
}

func check(cond bool, format string, args ...interface{}) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// serviceError asserts err is an OSS error with this HTTP status and code.
func serviceError(err error, status int, code string) error {
	se, ok := err.(oss.ServiceError)
	if !ok {
		return fmt.Errorf("want %d %s, got %v", status, code, err)
	}
	return check(se.StatusCode == status && se.Code == code, "want %d %s, got %d %s", status, code, se.StatusCode, se.Code)
}

// headCRC is the object's x-oss-hash-crc64ecma.
func headCRC(b *oss.Bucket, key string) (uint64, http.Header, error) {
	h, err := b.GetObjectDetailedMeta(key)
	if err != nil {
		return 0, nil, err
	}
	v, err := strconv.ParseUint(h.Get("X-Oss-Hash-Crc64ecma"), 10, 64)
	return v, h, err
}

// sameObject reads key back and compares it with want, bytes and CRC-64.
func sameObject(b *oss.Bucket, key string, want []byte) error {
	r, err := b.GetObject(key)
	if err != nil {
		return err
	}
	defer r.Close()
	got, err := ioutil.ReadAll(r)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s: read %d bytes that differ from the %d written", key, len(got), len(want))
	}
	crc, _, err := headCRC(b, key)
	if err != nil {
		return err
	}
	return check(crc == crcOf(want), "%s: x-oss-hash-crc64ecma %d, CRC-64 of the bytes %d", key, crc, crcOf(want))
}

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func main() {
	endpoint, ak, sk := os.Getenv("OSS_ENDPOINT"), os.Getenv("OSS_ACCESS_KEY_ID"), os.Getenv("OSS_ACCESS_KEY_SECRET")
	name, work := os.Getenv("OSS_BUCKET"), os.Getenv("OSS_WORK_DIR")
	if endpoint == "" || ak == "" || sk == "" || name == "" || work == "" {
		fmt.Fprintln(os.Stderr, "set OSS_ENDPOINT, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_BUCKET and OSS_WORK_DIR")
		os.Exit(2)
	}
	client, err := oss.New(endpoint, ak, sk, oss.EnableCRC(true), oss.Timeout(10, 120))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	other := name + "-copy"
	bucket, _ := client.Bucket(name)
	otherBucket, _ := client.Bucket(other)

	// Buckets.
	step("CreateBucket", func() error {
		if err := client.CreateBucket(name); err != nil {
			return err
		}
		return client.CreateBucket(other)
	})
	step("CreateBucketAlreadyExists", func() error {
		return serviceError(client.CreateBucket(name), 409, "BucketAlreadyExists")
	})
	step("IsBucketExist", func() error {
		yes, err := client.IsBucketExist(name)
		if err != nil {
			return err
		}
		no, err := client.IsBucketExist(name + "-absent")
		if err != nil {
			return err
		}
		return check(yes && !no, "exists %v, absent bucket exists %v", yes, no)
	})
	step("ListBuckets", func() error {
		r, err := client.ListBuckets(oss.Prefix(name))
		if err != nil {
			return err
		}
		names := []string{}
		for _, b := range r.Buckets {
			names = append(names, b.Name)
		}
		return check(strings.Join(names, ",") == name+","+other, "listed %v", names)
	})
	step("GetBucketInfo", func() error {
		r, err := client.GetBucketInfo(name)
		if err != nil {
			return err
		}
		return check(r.BucketInfo.Name == name && r.BucketInfo.Location != "", "info %+v", r.BucketInfo)
	})
	step("GetBucketLocation", func() error {
		loc, err := client.GetBucketLocation(name)
		if err != nil {
			return err
		}
		return check(strings.HasPrefix(loc, "oss-"), "location %q", loc)
	})

	// Objects.
	data := randomBytes(300*1024+17, 1)
	step("PutObject", func() error {
		// The SDK compares its CRC-64 of the body with the response's x-oss-hash-crc64ecma.
		return bucket.PutObject("dir/a.bin", bytes.NewReader(data), oss.Meta("color", "blue"), oss.ContentType("application/x-test"))
	})
	step("PutObjectFromFile", func() error {
		file := filepath.Join(work, "from-file.bin")
		if err := ioutil.WriteFile(file, data[:5000], 0o600); err != nil {
			return err
		}
		if err := bucket.PutObjectFromFile("dir/from-file.bin", file); err != nil {
			return err
		}
		return sameObject(bucket, "dir/from-file.bin", data[:5000])
	})
	step("GetObject", func() error {
		r, err := bucket.DoGetObject(&oss.GetObjectRequest{ObjectKey: "dir/a.bin"}, nil)
		if err != nil {
			return err
		}
		defer r.Response.Body.Close()
		got, err := ioutil.ReadAll(r.Response.Body)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, data) {
			return fmt.Errorf("read %d bytes that differ from the %d written", len(got), len(data))
		}
		return check(r.ClientCRC.Sum64() == r.ServerCRC && r.ServerCRC == crcOf(data), "CRC-64 client %d, server %d, data %d", r.ClientCRC.Sum64(), r.ServerCRC, crcOf(data))
	})
	step("GetObjectToFile", func() error {
		// The SDK checks the whole-object CRC-64 itself here.
		file := filepath.Join(work, "a.bin")
		if err := bucket.GetObjectToFile("dir/a.bin", file); err != nil {
			return err
		}
		got, err := ioutil.ReadFile(file)
		if err != nil {
			return err
		}
		return check(bytes.Equal(got, data), "file differs")
	})
	step("GetObjectRange", func() error {
		r, err := bucket.GetObject("dir/a.bin", oss.Range(100, 1099))
		if err != nil {
			return err
		}
		defer r.Close()
		got, err := ioutil.ReadAll(r)
		if err != nil {
			return err
		}
		return check(bytes.Equal(got, data[100:1100]), "range 100-1099: got %d bytes", len(got))
	})
	step("GetObjectDetailedMeta", func() error {
		crc, h, err := headCRC(bucket, "dir/a.bin")
		if err != nil {
			return err
		}
		return check(crc == crcOf(data) && h.Get("Content-Length") == strconv.Itoa(len(data)) && h.Get("X-Oss-Meta-Color") == "blue" &&
			h.Get("Content-Type") == "application/x-test" && h.Get("X-Oss-Object-Type") == "Normal" && h.Get("Etag") != "",
			"headers %v", h)
	})
	step("GetObjectMeta", func() error {
		h, err := bucket.GetObjectMeta("dir/a.bin")
		if err != nil {
			return err
		}
		return check(h.Get("Content-Length") == strconv.Itoa(len(data)) && h.Get("Etag") != "", "headers %v", h)
	})
	step("IsObjectExist", func() error {
		yes, err := bucket.IsObjectExist("dir/a.bin")
		if err != nil {
			return err
		}
		no, err := bucket.IsObjectExist("dir/absent")
		if err != nil {
			return err
		}
		return check(yes && !no, "exists %v, absent key exists %v", yes, no)
	})
	step("GetObjectNoSuchKey", func() error {
		_, err := bucket.GetObject("dir/absent")
		return serviceError(err, 404, "NoSuchKey")
	})
	step("GetObjectIfMatch", func() error {
		h, err := bucket.GetObjectMeta("dir/a.bin")
		if err != nil {
			return err
		}
		r, err := bucket.GetObject("dir/a.bin", oss.IfMatch(h.Get("Etag")))
		if err != nil {
			return err
		}
		r.Close()
		_, err = bucket.GetObject("dir/a.bin", oss.IfMatch(`"00000000000000000000000000000000"`))
		return serviceError(err, 412, "PreconditionFailed")
	})
	step("CopyObject", func() error {
		r, err := bucket.CopyObject("dir/a.bin", "dir/a-copy.bin")
		if err != nil {
			return err
		}
		h, err := bucket.GetObjectMeta("dir/a.bin")
		if err != nil {
			return err
		}
		if err := check(strings.Trim(r.ETag, `"`) == strings.Trim(h.Get("Etag"), `"`), "copy ETag %s, source %s", r.ETag, h.Get("Etag")); err != nil {
			return err
		}
		return sameObject(bucket, "dir/a-copy.bin", data)
	})
	step("CopyObjectTo", func() error {
		if _, err := bucket.CopyObjectTo(other, "from-a.bin", "dir/a.bin"); err != nil {
			return err
		}
		return sameObject(otherBucket, "from-a.bin", data)
	})
	step("CopyObjectFrom", func() error {
		if err := otherBucket.PutObject("b.bin", bytes.NewReader(data[:1000])); err != nil {
			return err
		}
		if _, err := bucket.CopyObjectFrom(other, "b.bin", "dir/from-other.bin"); err != nil {
			return err
		}
		return sameObject(bucket, "dir/from-other.bin", data[:1000])
	})
	step("SetObjectMeta", func() error {
		// A copy onto itself with x-oss-metadata-directive: REPLACE.
		if err := bucket.SetObjectMeta("dir/a-copy.bin", oss.Meta("color", "green")); err != nil {
			return err
		}
		_, h, err := headCRC(bucket, "dir/a-copy.bin")
		if err != nil {
			return err
		}
		return check(h.Get("X-Oss-Meta-Color") == "green", "meta after replace: %q", h.Get("X-Oss-Meta-Color"))
	})
	step("AppendObject", func() error {
		first, second := randomBytes(50*1024, 2), randomBytes(70*1024+3, 3)
		// With InitCRC the SDK checks the CRC-64 of everything appended so far against the server's.
		next, err := bucket.AppendObject("dir/app.log", bytes.NewReader(first), 0, oss.InitCRC(0))
		if err != nil {
			return err
		}
		if err := check(next == int64(len(first)), "next position %d after %d bytes", next, len(first)); err != nil {
			return err
		}
		if _, err := bucket.AppendObject("dir/app.log", bytes.NewReader(second), next, oss.InitCRC(crcOf(first))); err != nil {
			return err
		}
		// DoAppendObject, not AppendObject: this SDK version's AppendObject dereferences a nil result on an error.
		_, err = bucket.DoAppendObject(&oss.AppendObjectRequest{ObjectKey: "dir/app.log", Reader: bytes.NewReader(first), Position: 1}, nil)
		if err := serviceError(err, 409, "PositionNotEqualToLength"); err != nil {
			return err
		}
		_, h, err := headCRC(bucket, "dir/app.log")
		if err != nil {
			return err
		}
		if err := check(h.Get("X-Oss-Object-Type") == "Appendable", "object type %q", h.Get("X-Oss-Object-Type")); err != nil {
			return err
		}
		return sameObject(bucket, "dir/app.log", append(append([]byte{}, first...), second...))
	})
	step("ListObjects", func() error {
		for _, k := range []string{"list/x/1", "list/x/2", "list/y/1", "list/z"} {
			if err := bucket.PutObject(k, strings.NewReader(k)); err != nil {
				return err
			}
		}
		r, err := bucket.ListObjects(oss.Prefix("list/"), oss.Delimiter("/"))
		if err != nil {
			return err
		}
		keys := []string{}
		for _, o := range r.Objects {
			keys = append(keys, o.Key)
		}
		if err := check(strings.Join(keys, ",") == "list/z" && strings.Join(r.CommonPrefixes, ",") == "list/x/,list/y/", "keys %v, prefixes %v", keys, r.CommonPrefixes); err != nil {
			return err
		}
		page1, err := bucket.ListObjects(oss.Prefix("list/"), oss.MaxKeys(2))
		if err != nil {
			return err
		}
		page2, err := bucket.ListObjects(oss.Prefix("list/"), oss.MaxKeys(2), oss.Marker(page1.NextMarker))
		if err != nil {
			return err
		}
		all := []string{}
		for _, o := range append(page1.Objects, page2.Objects...) {
			all = append(all, o.Key)
		}
		return check(page1.IsTruncated && !page2.IsTruncated && strings.Join(all, ",") == "list/x/1,list/x/2,list/y/1,list/z" && page1.Objects[0].Size == 8,
			"pages %v (truncated %v, %v)", all, page1.IsTruncated, page2.IsTruncated)
	})
	step("DeleteObject", func() error {
		if err := bucket.DeleteObject("list/z"); err != nil {
			return err
		}
		yes, err := bucket.IsObjectExist("list/z")
		if err != nil {
			return err
		}
		return check(!yes, "still exists after delete")
	})
	step("DeleteObjects", func() error {
		r, err := bucket.DeleteObjects([]string{"list/x/1", "list/x/2", "list/y/1"})
		if err != nil {
			return err
		}
		left, err := bucket.ListObjects(oss.Prefix("list/"))
		if err != nil {
			return err
		}
		return check(len(r.DeletedObjects) == 3 && len(left.Objects) == 0, "deleted %v, left %d", r.DeletedObjects, len(left.Objects))
	})

	step("DeleteObjectsQuiet", func() error {
		for _, k := range []string{"quiet/1", "quiet/2"} {
			if err := bucket.PutObject(k, strings.NewReader(k)); err != nil {
				return err
			}
		}
		r, err := bucket.DeleteObjects([]string{"quiet/1", "quiet/2"}, oss.DeleteObjectsQuiet(true))
		if err != nil {
			return err
		}
		left, err := bucket.ListObjects(oss.Prefix("quiet/"))
		if err != nil {
			return err
		}
		return check(len(r.DeletedObjects) == 0 && len(left.Objects) == 0, "quiet answer listed %v, left %d", r.DeletedObjects, len(left.Objects))
	})
	step("NonAsciiKey", func() error {
		// DeleteObjects asks for encoding-type=url and decodes the keys it gets back.
		key := "uni/ä+ü=&(1).bin"
		if err := bucket.PutObject(key, strings.NewReader("x")); err != nil {
			return err
		}
		listed, err := bucket.ListObjects(oss.Prefix("uni/"))
		if err != nil {
			return err
		}
		if err := check(len(listed.Objects) == 1 && listed.Objects[0].Key == key, "listed %+v", listed.Objects); err != nil {
			return err
		}
		if err := sameObject(bucket, key, []byte("x")); err != nil {
			return err
		}
		r, err := bucket.DeleteObjects([]string{key})
		if err != nil {
			return err
		}
		return check(len(r.DeletedObjects) == 1 && r.DeletedObjects[0] == key, "deleted %q", r.DeletedObjects)
	})

	// Multipart.
	parts := [][]byte{randomBytes(100*1024, 4), randomBytes(100*1024, 5), randomBytes(1234, 6)}
	whole := bytes.Join(parts, nil)
	var imur oss.InitiateMultipartUploadResult
	var uploaded []oss.UploadPart
	step("InitiateMultipartUpload", func() error {
		var err error
		imur, err = bucket.InitiateMultipartUpload("mp/whole.bin", oss.Meta("kind", "multipart"))
		if err != nil {
			return err
		}
		return check(imur.UploadID != "" && imur.Key == "mp/whole.bin", "result %+v", imur)
	})
	step("UploadPart", func() error {
		// The SDK checks each part's CRC-64 against the response.
		for i, p := range parts[:2] {
			up, err := bucket.UploadPart(imur, bytes.NewReader(p), int64(len(p)), i+1)
			if err != nil {
				return err
			}
			uploaded = append(uploaded, up)
		}
		return nil
	})
	step("UploadPartFromFile", func() error {
		// Part 3 from a range of a file: 7 bytes of padding, then the part.
		file := filepath.Join(work, "part3.bin")
		if err := ioutil.WriteFile(file, append([]byte("padding"), parts[2]...), 0o600); err != nil {
			return err
		}
		up, err := bucket.UploadPartFromFile(imur, file, 7, int64(len(parts[2])), 3)
		if err != nil {
			return err
		}
		uploaded = append(uploaded, up)
		return nil
	})
	step("ListUploadedParts", func() error {
		r, err := bucket.ListUploadedParts(imur)
		if err != nil {
			return err
		}
		if err := check(len(r.UploadedParts) == 3, "%d parts listed", len(r.UploadedParts)); err != nil {
			return err
		}
		for i, p := range r.UploadedParts {
			if err := check(p.PartNumber == i+1 && p.Size == len(parts[i]) && p.ETag == uploaded[i].ETag, "part %d listed as %+v, uploaded %+v", i+1, p, uploaded[i]); err != nil {
				return err
			}
		}
		return nil
	})
	step("ListMultipartUploads", func() error {
		r, err := bucket.ListMultipartUploads(oss.Prefix("mp/"))
		if err != nil {
			return err
		}
		return check(len(r.Uploads) == 1 && r.Uploads[0].UploadID == imur.UploadID && r.Uploads[0].Key == "mp/whole.bin", "uploads %+v", r.Uploads)
	})
	step("CompleteMultipartUpload", func() error {
		// The SDK marshals the part list with encoding/xml, which writes each ETag's quotes as &#34;.
		r, err := bucket.CompleteMultipartUpload(imur, uploaded)
		if err != nil {
			return err
		}
		if err := check(strings.HasSuffix(strings.Trim(r.ETag, `"`), "-3"), "multipart ETag %s", r.ETag); err != nil {
			return err
		}
		if err := sameObject(bucket, "mp/whole.bin", whole); err != nil {
			return err
		}
		left, err := bucket.ListMultipartUploads(oss.Prefix("mp/"))
		if err != nil {
			return err
		}
		return check(len(left.Uploads) == 0, "%d uploads still listed after Complete", len(left.Uploads))
	})
	step("AbortMultipartUpload", func() error {
		ab, err := bucket.InitiateMultipartUpload("mp/aborted.bin")
		if err != nil {
			return err
		}
		if _, err := bucket.UploadPart(ab, bytes.NewReader(parts[0]), int64(len(parts[0])), 1); err != nil {
			return err
		}
		if err := bucket.AbortMultipartUpload(ab); err != nil {
			return err
		}
		_, err = bucket.ListUploadedParts(ab)
		if err := serviceError(err, 404, "NoSuchUpload"); err != nil {
			return err
		}
		exists, err := bucket.IsObjectExist("mp/aborted.bin")
		if err != nil {
			return err
		}
		return check(!exists, "an aborted upload left an object")
	})
	step("UploadPartCopy", func() error {
		up, err := bucket.InitiateMultipartUpload("mp/part-copy.bin")
		if err != nil {
			return err
		}
		p1, err := bucket.UploadPartCopy(up, name, "dir/a.bin", 0, 200*1024, 1)
		if err != nil {
			return err
		}
		p2, err := bucket.UploadPartCopy(up, name, "dir/a.bin", 200*1024, int64(len(data)-200*1024), 2)
		if err != nil {
			return err
		}
		if _, err := bucket.CompleteMultipartUpload(up, []oss.UploadPart{p1, p2}); err != nil {
			return err
		}
		return sameObject(bucket, "mp/part-copy.bin", data)
	})
	step("UploadFile", func() error {
		// The SDK's concurrent multipart upload of a file: 3 goroutines, 100 KiB parts.
		src := randomBytes(450*1024+9, 7)
		file := filepath.Join(work, "upload.bin")
		if err := ioutil.WriteFile(file, src, 0o600); err != nil {
			return err
		}
		if err := bucket.UploadFile("mp/uploaded.bin", file, 100*1024, oss.Routines(3)); err != nil {
			return err
		}
		return sameObject(bucket, "mp/uploaded.bin", src)
	})
	step("DownloadFile", func() error {
		// The SDK's concurrent ranged download: 3 goroutines, 64 KiB ranges.
		file := filepath.Join(work, "download.bin")
		if err := bucket.DownloadFile("dir/a.bin", file, 64*1024, oss.Routines(3)); err != nil {
			return err
		}
		got, err := ioutil.ReadFile(file)
		if err != nil {
			return err
		}
		return check(bytes.Equal(got, data), "downloaded file differs")
	})
	step("CopyFile", func() error {
		// The SDK's multipart copy (UploadPartCopy per 100 KiB range, then Complete).
		if err := bucket.CopyFile(name, "dir/a.bin", "mp/copied.bin", 100*1024, oss.Routines(2)); err != nil {
			return err
		}
		return sameObject(bucket, "mp/copied.bin", data)
	})

	// Bucket removal: refused while objects remain, then accepted.
	step("DeleteBucket", func() error {
		if err := serviceError(client.DeleteBucket(other), 409, "BucketNotEmpty"); err != nil {
			return err
		}
		for _, k := range []string{"from-a.bin", "b.bin"} {
			if err := otherBucket.DeleteObject(k); err != nil {
				return err
			}
		}
		if err := client.DeleteBucket(other); err != nil {
			return err
		}
		exists, err := client.IsBucketExist(other)
		if err != nil {
			return err
		}
		return check(!exists, "bucket still exists after delete")
	})

	if failed {
		os.Exit(1)
	}
}
