//! Product images in an object store: a local directory (`{data_dir}/media` unless configured)
//! by default, an S3-compatible bucket when built with the `s3` feature and configured.
//!
//! An image is recognised by its first bytes, not by the name or type a client claims, and
//! stored under a key Pasar makes (`{media id}.{extension}`), so a client can neither place a
//! file nor make the shop serve a script as an image.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::Config;
use crate::ids::MediaId;

/// The image formats a product photo may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl ImageType {
    const ALL: [ImageType; 4] = [ImageType::Png, ImageType::Jpeg, ImageType::Webp, ImageType::Gif];

    /// The format the bytes are in, judged by their signature.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageType::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageType::Jpeg)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(ImageType::Webp)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageType::Gif)
        } else {
            None
        }
    }

    /// The format a `Content-Type` header names, ignoring parameters and case.
    pub fn from_content_type(header: &str) -> Option<Self> {
        let mime = header.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match mime.as_str() {
            "image/jpg" => Some(ImageType::Jpeg),
            mime => Self::ALL.into_iter().find(|t| t.content_type() == mime),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Webp => "image/webp",
            ImageType::Gif => "image/gif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Png => "png",
            ImageType::Jpeg => "jpg",
            ImageType::Webp => "webp",
            ImageType::Gif => "gif",
        }
    }
}

/// Where an image is kept and served from: `{media id}.{extension}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaKey {
    pub id: MediaId,
    pub image_type: ImageType,
}

impl fmt::Display for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.id, self.image_type.extension())
    }
}

impl FromStr for MediaKey {
    type Err = ();
    fn from_str(text: &str) -> Result<Self, ()> {
        let (id, extension) = text.split_once('.').ok_or(())?;
        let image_type = ImageType::ALL.into_iter().find(|t| t.extension() == extension).ok_or(())?;
        Ok(Self { id: id.parse().map_err(|_| ())?, image_type })
    }
}

impl MediaKey {
    /// The path the API serves the image at.
    pub fn url(&self) -> String {
        format!("/media/{self}")
    }
}

/// Why an upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadRefused {
    #[error("the image is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the body is not a PNG, JPEG, WebP or GIF image")]
    NotAnImage,
    #[error("the body is a {actual} image but Content-Type says {declared:?}")]
    TypeMismatch { actual: &'static str, declared: String },
}

/// Checks an upload and tells its format: within `max` bytes, an image by its signature, and
/// of the type its `Content-Type` declares.
pub fn check_upload(bytes: &[u8], declared: Option<&str>, max: usize) -> Result<ImageType, UploadRefused> {
    if bytes.len() > max {
        return Err(UploadRefused::TooLarge { max });
    }
    let actual = ImageType::sniff(bytes).ok_or(UploadRefused::NotAnImage)?;
    match declared {
        Some(declared) if ImageType::from_content_type(declared) == Some(actual) => Ok(actual),
        declared => Err(UploadRefused::TypeMismatch {
            actual: actual.content_type(),
            declared: declared.unwrap_or("nothing").to_owned(),
        }),
    }
}

/// The object store images live in, and how large one may be.
#[derive(Clone, Debug)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    max_bytes: usize,
}

impl MediaStore {
    /// The store the configuration names: an S3 bucket when `media_s3_bucket` is set, else the
    /// local media directory (created when missing).
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match &config.media_s3_bucket {
            Some(bucket) => s3_store(config, bucket)?,
            None => {
                let dir = config.media_dir();
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating media directory {}", dir.display()))?;
                // fsync: an image the API said it stored survives a power cut like the row
                // that points to it.
                let local = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .with_context(|| format!("opening media directory {}", dir.display()))?
                    .with_fsync(true);
                Arc::new(local)
            }
        };
        Ok(Self { store, max_bytes: config.media_max_bytes })
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub async fn put(&self, key: MediaKey, bytes: Bytes) -> Result<(), object_store::Error> {
        self.put_at(&key.to_string(), bytes).await
    }

    /// Stores an uploaded image, then runs `record` (the transaction writing the row that names
    /// it); when the row cannot be written the object is removed again, so no file is left that
    /// nothing names.
    pub async fn put_recorded<T, E>(
        &self,
        key: MediaKey,
        bytes: Bytes,
        record: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E>
    where
        E: From<object_store::Error>,
    {
        self.put(key, bytes).await?;
        let recorded = record.await;
        if recorded.is_err() {
            if let Err(cleanup) = self.delete(key).await {
                tracing::warn!(key = %key, error = %cleanup, "could not remove an image whose row was not written");
            }
        }
        recorded
    }

    /// The image's bytes, or None when there is no such object.
    pub async fn get(&self, key: MediaKey) -> Result<Option<Bytes>, object_store::Error> {
        self.get_at(&key.to_string()).await
    }

    /// Deletes the image; one that is already gone is fine.
    pub async fn delete(&self, key: MediaKey) -> Result<(), object_store::Error> {
        self.delete_at(&key.to_string()).await
    }

    /// Stores an object under a name the caller made (other modules' files, such as a store's
    /// logo or documents, under a folder of their own). Only `/media/{key}` is served publicly,
    /// and only for product images, so an object stored here is as private as its owner keeps it.
    pub async fn put_at(&self, name: &str, bytes: Bytes) -> Result<(), object_store::Error> {
        self.store.put(&ObjectPath::from(name), PutPayload::from_bytes(bytes)).await.map(|_| ())
    }

    /// The object's bytes, or None when there is no such object.
    pub async fn get_at(&self, name: &str) -> Result<Option<Bytes>, object_store::Error> {
        match self.store.get(&ObjectPath::from(name)).await {
            Ok(found) => found.bytes().await.map(Some),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Deletes the object; one that is already gone is fine.
    pub async fn delete_at(&self, name: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&ObjectPath::from(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

#[cfg(feature = "s3")]
fn s3_store(config: &Config, bucket: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    // Credentials come from the standard AWS_* environment variables (or the instance's
    // role), never from Pasar's own configuration file.
    let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(region) = &config.media_s3_region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &config.media_s3_endpoint {
        builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
    }
    Ok(Arc::new(builder.build().context("configuring the S3 media bucket")?))
}

#[cfg(not(feature = "s3"))]
fn s3_store(_config: &Config, _bucket: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    anyhow::bail!("media_s3_bucket is set but this build has no S3 support; build Pasar with `--features s3`")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn images_are_known_by_their_first_bytes() {
        assert_eq!(ImageType::sniff(PNG), Some(ImageType::Png));
        assert_eq!(ImageType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageType::Jpeg));
        assert_eq!(ImageType::sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(ImageType::Webp));
        assert_eq!(ImageType::sniff(b"GIF89a\x01\0"), Some(ImageType::Gif));
        assert_eq!(ImageType::sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(ImageType::sniff(b"<svg xmlns="), None);
        assert_eq!(ImageType::sniff(b""), None);
    }

    #[test]
    fn an_upload_must_be_the_image_it_claims_to_be() {
        assert_eq!(check_upload(PNG, Some("image/png"), 100), Ok(ImageType::Png));
        assert_eq!(check_upload(PNG, Some("Image/PNG; charset=binary"), 100), Ok(ImageType::Png));
        assert_eq!(check_upload(PNG, Some("image/png"), 4), Err(UploadRefused::TooLarge { max: 4 }));
        assert_eq!(check_upload(b"hello", Some("image/png"), 100), Err(UploadRefused::NotAnImage));
        assert!(matches!(check_upload(PNG, Some("image/gif"), 100), Err(UploadRefused::TypeMismatch { .. })));
        assert!(matches!(check_upload(PNG, None, 100), Err(UploadRefused::TypeMismatch { .. })));
    }

    #[test]
    fn a_media_key_round_trips_and_refuses_paths() {
        let key = MediaKey { id: MediaId::new(), image_type: ImageType::Webp };
        assert_eq!(key.to_string().parse::<MediaKey>(), Ok(key));
        assert!(key.url().starts_with("/media/med_"));
        assert!("../etc/passwd".parse::<MediaKey>().is_err());
        assert!(format!("{}.svg", key.id).parse::<MediaKey>().is_err());
    }
}
